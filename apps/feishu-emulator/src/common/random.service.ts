import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';

export abstract class Random {
  /** Uniform in [0, 1). */
  abstract next(): number;
  /** Unpredictable hex text of the given number of bytes, for tokens and tickets. */
  abstract hex(bytes: number): string;
}

@Injectable()
export class SystemRandom extends Random {
  next(): number {
    return Math.random();
  }

  hex(bytes: number): string {
    return randomBytes(bytes).toString('hex');
  }
}
