/** Every TypeORM entity of the app, listed once. Feature modules add theirs here. */
import type { EntitySchema } from 'typeorm';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for entity classes
export const entities: (Function | EntitySchema)[] = [];
