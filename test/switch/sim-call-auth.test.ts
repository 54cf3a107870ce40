/**
 * Calls from registered phones on a simulator with `authCalls` (sofia's auth-calls): the
 * directory fetch (REQUEST_PARAMS, action sip_auth, method INVITE) comes first, a client
 * answers it with `sendevent CUSTOM` fife::fetch_reply through modesl, and the call starts
 * with the user's variables, or is refused with CALL_REJECTED.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import { modeslClose, modeslConnect, nextSimEvent, startSwitch } from './helpers.ts';

let sw: Switch;
let conn: Connection;

beforeEach(async () => {
  ({ sw } = await startSwitch({ authCalls: { timeoutMs: 5000 }, registration: { realm: 'acme.test' } }));
  conn = await modeslConnect(sw.port);
  await new Promise((r) => conn.events('plain', 'REQUEST_PARAMS', r));
  sw.registerEndpoint('1001');
});
afterEach(async () => {
  await modeslClose(conn);
  await sw.close();
});

const nextFetch = (): Promise<ModeslEvent> =>
  new Promise((r) => conn.once('esl::event::REQUEST_PARAMS::**', r));
const reply = (headers: Record<string, string>): Promise<unknown> =>
  new Promise((r) =>
    conn.sendRecv('sendevent CUSTOM', { 'Event-Subclass': 'fife::fetch_reply', ...headers }, r),
  );

it('asks the directory first, then starts the call with the variables of the answer', async () => {
  const fetch = nextFetch();
  const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const uuid = sw.placeCall({ from: '1001', to: '2000' });
  const f = await fetch;
  expect(f.getHeader('Fetch-Section')).toBe('directory');
  expect(f.getHeader('action')).toBe('sip_auth');
  expect(f.getHeader('sip_auth_method')).toBe('INVITE');
  expect(f.getHeader('sip_auth_username')).toBe('1001');
  expect(f.getHeader('sip_auth_realm')).toBe('acme.test');
  expect(sw.channel(uuid)).toBeUndefined();
  await reply({
    'Fetch-UUID': f.getHeader('Fetch-UUID') ?? '',
    'Fetch-Result': 'found',
    'variable_ecallmgr_Account-ID': 'acc1',
    'variable_ecallmgr_Owner-ID': 'own1',
  });
  const park = await parked;
  expect(park.uuid).toBe(uuid);
  expect(park.headers).toContainEqual(['variable_ecallmgr_Account-ID', 'acc1']);
  expect(park.headers).toContainEqual(['variable_ecallmgr_Owner-ID', 'own1']);
  expect(park.headers).toContainEqual(['variable_sip_authorized', 'true']);
});

it('refuses the call with CALL_REJECTED (SIP 403) when the directory does not know the user', async () => {
  const fetch = nextFetch();
  const hangup = nextSimEvent(sw, (e) => e.name === 'CHANNEL_HANGUP');
  const uuid = sw.placeCall({ from: '1001', to: '2000' });
  await reply({ 'Fetch-UUID': (await fetch).getHeader('Fetch-UUID') ?? '', 'Fetch-Result': 'not_found' });
  const h = await hangup;
  expect(h.uuid).toBe(uuid);
  expect(h.headers).toContainEqual(['Hangup-Cause', 'CALL_REJECTED']);
  expect(h.headers).toContainEqual(['variable_sip_term_status', '403']);
});

it('a caller that is not a registered phone (a carrier) is not challenged', async () => {
  const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const uuid = sw.placeCall({ from: '+15551234567', to: '2000' });
  expect((await parked).uuid).toBe(uuid);
});
