// Must FAIL to compile (js/types/tsconfig.wrong.json): the two classic mistakes
// a typed API exists to catch.
import { ImClient } from 'imsip';

const client = new ImClient({
  server: 'wss://core.example.net/sip',
  aor: 'sip:alice@example.net',
  pasword: 'secret', // misspelt option: TS2353 (or TS2561)
});
client.addEventListener('registration', (e) => {
  console.log(e.detail.stat); // no such detail field: TS2339 (or TS2551)
});
