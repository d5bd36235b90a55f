// Headless Chromium for the page tests: Debian's /usr/bin/chromium through
// playwright-core (never a downloaded browser), with the flags a shared CI machine needs.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

/** A headless Chromium (close it when done). */
export function launchChromium() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/**
 * Debian's Chromium started by hand (for tests that attach over CDP with `noDefaults`), as
 * the leader of its own process group: its zygote, renderers and utility processes are in
 * that group, so `stopChromium` can end every one of them, not just the browser process.
 */
export function spawnChromium(profileDir, debuggingPort) {
  const proc = spawn('/usr/bin/chromium', [...CHROMIUM_ARGS, `--remote-debugging-port=${debuggingPort}`,
    `--user-data-dir=${profileDir}`, 'about:blank'], { stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return { proc, exited };
}

/**
 * Ends a `spawnChromium` browser and every process of its group, and returns once none is
 * left: a helper still writing into the profile after the browser process exited made the
 * profile's removal fail (ENOTEMPTY) in a CI run.
 */
export async function stopChromium({ proc, exited }) {
  signalGroup(proc.pid, 'SIGTERM');
  await exited;
  signalGroup(proc.pid, 'SIGKILL');
  // SIGKILL cannot be caught; the group is gone as soon as the kernel has reaped it.
  // Bounded: a process that outlives 10 s of SIGKILL is reported, not waited for.
  for (let waited = 0; groupAlive(proc.pid); waited += 20) {
    if (waited >= 10_000) {
      process.stderr.write(`chromium: process group ${proc.pid} still alive after SIGKILL\n`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch (e) {
    if (e.code !== 'ESRCH') throw e;
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

export { removeTempDir } from '../../js/test-lib/tmp.mjs';
