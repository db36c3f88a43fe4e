/** Every migration, in order. Listed as classes so the same list works compiled (dist/) and under ts-jest. */
import type { MigrationInterface } from 'typeorm';

export const migrations: (new () => MigrationInterface)[] = [];
