/** The --backend flag shared by the commands that compute: auto-select or a named backend. */
import { autoSelectBackend, registerFastBackends } from '../autodiff/backends/auto.js';
import { setBackend } from '../autodiff/backend.js';

export async function selectBackend(name: string, verbose: boolean): Promise<string> {
  if (name === 'auto') {
    const sel = await autoSelectBackend();
    if (verbose) console.error(`backend: ${sel.backend.name} (${sel.reason})`);
    return sel.backend.name;
  }
  if (name !== 'reference') await registerFastBackends();
  await setBackend(name);
  if (verbose) console.error(`backend: ${name}`);
  return name;
}
