/** The --backend flag shared by the commands that compute: auto-select or a named backend. */
import { autoSelectBackendNode, registerFastBackendsNode } from '../node/backends.js';
import { setBackend } from '../autodiff/backend.js';

export async function selectBackend(name: string, verbose: boolean): Promise<string> {
  if (name === 'auto') {
    const sel = await autoSelectBackendNode();
    if (verbose) console.error(`backend: ${sel.backend.name} (${sel.reason})`);
    return sel.backend.name;
  }
  if (name !== 'reference') await registerFastBackendsNode();
  await setBackend(name);
  if (verbose) console.error(`backend: ${name}`);
  return name;
}
