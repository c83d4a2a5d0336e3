import { Random } from '../src/common/random.service';

/**
 * Strict fake: `next()` returns the scripted draws in order and throws once they run out, so a
 * test notices a draw it did not plan for. `hex()` is a readable counter.
 */
export class ScriptedRandom extends Random {
  private readonly draws: number[];
  private hexCounter = 0;

  constructor(draws: number[] = []) {
    super();
    this.draws = [...draws];
  }

  script(...draws: number[]): this {
    this.draws.push(...draws);
    return this;
  }

  next(): number {
    const draw = this.draws.shift();
    if (draw === undefined) throw new Error('ScriptedRandom: unexpected draw, none scripted');
    return draw;
  }

  hex(bytes: number): string {
    this.hexCounter += 1;
    return this.hexCounter.toString(16).padStart(bytes * 2, '0');
  }

  remaining(): number {
    return this.draws.length;
  }
}
