/**
 * A call placed by a registered phone on a switch that authenticates calls (sofia's
 * auth-calls): the simulator's directory fetch (sip_auth, INVITE) goes through ecallmgr's
 * authn to the real registrar, whose authn_resp Custom-Channel-Vars come back as the
 * user's `ecallmgr_*` variables, so the caller's channel and ecallmgr's route_req carry
 * the account of the device; a caller the registrar does not know is refused
 * (CALL_REJECTED) and never routed. Run on the embedded bus (call-auth.test.ts) and on
 * RabbitMQ (call-auth.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { addAccount, addDevice } from '../../../apps/registrar/provisioning.ts';
import { header, type Harness } from './harness.ts';
import { startRegistrar, type RegistrarSide } from './registrar-side.ts';

const REALM = 'acme.fife.test';

export function callAuthSuite(
  start: (o: {
    switchOptions: Record<string, unknown>;
    settings: Record<string, unknown>;
  }) => Promise<Harness>,
): void {
  let h: Harness;
  let reg: RegistrarSide;
  beforeEach(async () => {
    h = await start({
      switchOptions: { authCalls: { timeoutMs: 5000 }, registration: { realm: REALM } },
      settings: { authnTimeoutMs: 500 },
    });
    reg = await startRegistrar(h);
  });
  afterEach(async () => {
    await reg.close();
    await h.close();
  });

  it("a registered phone's call is authenticated first; its route_req carries the device's account", async () => {
    const accountId = await addAccount(reg.store, { name: 'Acme', realm: REALM });
    const deviceId = await addDevice(reg.store, { realm: REALM, username: '1001', password: 'pw-1001' });
    await reg.register('1001', REALM);
    const callId = h.sw.placeCall({ from: '1001', to: '2000' });
    const fetch = await h.waitSwitch(
      (e) => e.name === 'REQUEST_PARAMS' && header(e, 'sip_auth_username') === '1001',
      'directory fetch',
    );
    expect(header(fetch, 'sip_auth_method')).toBe('INVITE');
    expect(header(fetch, 'sip_auth_realm')).toBe(REALM);
    const req = await h.app.waitFor(
      (m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId,
      'route_req',
    );
    expect(req['Custom-Channel-Vars']).toMatchObject({
      'Account-ID': accountId,
      'Authorizing-ID': deviceId,
      'Authorizing-Type': 'device',
      Username: '1001',
      Realm: REALM,
    });
    const create = await h.waitSwitch((e) => e.name === 'CHANNEL_CREATE' && e.uuid === callId, 'caller leg');
    expect(header(create, 'variable_ecallmgr_Account-ID')).toBe(accountId);
    expect(header(create, 'variable_sip_authorized')).toBe('true');
    // no password leaves ecallmgr in a log line
    expect(h.lines.some((l) => JSON.stringify(l).includes('pw-1001'))).toBe(false);
  });

  it('a phone the registrar does not know is refused with CALL_REJECTED and never routed', async () => {
    await addAccount(reg.store, { name: 'Acme', realm: REALM });
    await reg.register('1009', REALM);
    const callId = h.sw.placeCall({ from: '1009', to: '2000' });
    const hangup = await h.waitSwitch((e) => e.name === 'CHANNEL_HANGUP' && e.uuid === callId, 'refusal');
    expect(header(hangup, 'Hangup-Cause')).toBe('CALL_REJECTED');
    expect(header(hangup, 'variable_sip_term_status')).toBe('403');
    await h.sw.whenDestroyed(callId);
    expect(h.switchEvents.some((e) => e.uuid === callId && e.name === 'CHANNEL_PARK')).toBe(false);
    expect(h.app.seen.some((m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId)).toBe(false);
  });
}
