// Temporary directories of the test suites.
import { rmSync } from 'node:fs';

/**
 * Removes a test's temporary directory (retrying while a process that just ended still
 * has files in it). Tidying up is not what a test checks: if the directory cannot be
 * removed, say so on stderr and go on rather than fail the suite.
 */
export function removeTempDir(dir) {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10 });
  } catch (e) {
    process.stderr.write(`could not remove ${dir}: ${e.message}\n`);
  }
}
