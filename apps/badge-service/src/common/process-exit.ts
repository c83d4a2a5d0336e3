import { Injectable } from '@nestjs/common';

/** EX_CONFIG (sysexits.h): what an invalid environment exits with, and a failure only a configuration change cures. */
export const EXIT_CONFIG = 78;

/** Ending the process, behind a seam (tests that run the service in-process replace it). */
@Injectable()
export class ProcessExit {
  /**
   * Writes `message` to stderr and exits now. Nothing in hand is lost: ingest offsets are committed only after the
   * database commit (a replay is a no-op), and a push cut short leaves its user's sides unknown until re-pushed.
   */
  fatal(message: string, code = EXIT_CONFIG): void {
    process.stderr.write(`badge-reconciler: ${message}\n`);
    process.exit(code);
  }
}
