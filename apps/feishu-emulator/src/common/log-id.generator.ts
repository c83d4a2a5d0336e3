import { Injectable } from '@nestjs/common';
import { Clock } from './clock.service';
import { Random } from './random.service';

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/**
 * Feishu log ids look like `20261126125600` (Beijing time) followed by 20 upper-case hex digits.
 * A random per-process part and a counter keep them unique without per-request crypto.
 */
@Injectable()
export class LogIdGenerator {
  private readonly processPart: string;
  private counter = 0;
  private stampSecond = -1;
  private stamp = '';

  constructor(
    private readonly clock: Clock,
    random: Random,
  ) {
    this.processPart = random.hex(4).toUpperCase();
  }

  next(): string {
    const second = Math.floor(this.clock.now() / 1000);
    if (second !== this.stampSecond) {
      this.stampSecond = second;
      const d = new Date(second * 1000 + BEIJING_OFFSET_MS);
      this.stamp = `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}`;
    }
    this.counter = (this.counter + 1) % 0x1000000000000;
    return `${this.stamp}${this.processPart}${this.counter.toString(16).toUpperCase().padStart(12, '0')}`;
  }
}
