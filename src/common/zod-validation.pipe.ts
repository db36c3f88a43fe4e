import { Injectable, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { DomainError } from './domain-error.js';
import { findUnstorableText } from './storable-text.js';

/** Validates a body or query with a zod schema; failures are 400 INVALID_REQUEST naming each bad field. */
@Injectable()
export class ZodValidationPipe<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.infer<T> {
    // Text PostgreSQL cannot store is never valid, whatever the field: refused here, before anything is stored.
    const unstorable = findUnstorableText(value);
    if (unstorable !== undefined) {
      const message = 'must not contain U+0000 or an unpaired UTF-16 surrogate';
      throw new DomainError('INVALID_REQUEST', `Invalid request: ${unstorable}: ${message}`, {
        issues: [{ path: unstorable, message }],
      });
    }
    const parsed = this.schema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues.map((i) => ({
      path: i.path.map(String).join('.'),
      message: i.message,
    }));
    throw new DomainError(
      'INVALID_REQUEST',
      `Invalid request: ${issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ')}`,
      { issues },
    );
  }
}
