/** DI token of the rate-limit counter store (`@nestjs/throttler`'s `ThrottlerStorage` contract). */
export const RATE_LIMIT_STORAGE = Symbol('RATE_LIMIT_STORAGE');
