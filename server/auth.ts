import { createHash, timingSafeEqual } from 'node:crypto';
import { HpsError } from '../engine/errors.js';
import { notFound } from './errors.js';

/**
 * The bearer token of write and model-control endpoints. Without a configured token those endpoints
 * are off (404); with one, a request must carry `Authorization: Bearer <token>` (401 otherwise).
 * Tokens are compared in constant time.
 */
export class TokenCheck {
  private readonly digest: Buffer | null;

  constructor(token: string | null) {
    this.digest = token === null ? null : sha256(token);
  }

  get enabled(): boolean {
    return this.digest !== null;
  }

  /** Throws unless `authorization` (the header's value, or gRPC metadata) carries the token. */
  require(authorization: string | undefined, what: string): void {
    if (!this.digest) throw notFound(`${what} is switched off: the server was started without a token (--token-file or HPS_TOKEN)`);
    if (!authorization) throw new HpsError('UNAUTHORIZED', `${what} needs the header Authorization: Bearer <token>`);
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (!match || !timingSafeEqual(sha256(match[1]), this.digest)) {
      throw new HpsError('UNAUTHORIZED', `${what}: the bearer token is wrong${match ? '' : ' (expected Authorization: Bearer <token>)'}; nothing was changed`);
    }
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
