import { Injectable } from '@nestjs/common';

/** Process lifecycle as the probes see it: once draining, readiness fails so the load balancer stops sending. */
@Injectable()
export class Lifecycle {
  private drainingSince?: number;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  beginDrain(): void {
    this.drainingSince ??= Date.now();
  }
}
