// Type-checked (tsc --strict, NodeNext resolution) inside the fresh project: the
// installed package's `types`/`exports` lead to imsip.d.ts.
import init, { ImClient, type RegistrationInfo } from 'imsip';

export async function run(): Promise<RegistrationInfo> {
  await init();
  const c = new ImClient({ server: 'ws://127.0.0.1:1/sip', aor: 'sip:alice@imsip.test', password: 'x' });
  c.addEventListener('message', (e) => console.log(e.detail.body));
  return c.register();
}
