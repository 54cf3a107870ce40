/**
 * One version for the package: what package.json says is what the apps report, as their
 * version and as App-Version on the messages they send.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import ecallmgrApp from '../../apps/ecallmgr/app.ts';
import registrarApp from '../../apps/registrar/app.ts';
import callflowApp from '../../apps/callflow/app.ts';
import { startHarness as startEcallmgr, type Harness as EcallmgrHarness } from '../apps/ecallmgr/harness.ts';
import {
  askAuthn,
  startHarness as startRegistrar,
  type Harness as RegistrarHarness,
} from '../apps/registrar/support.ts';

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('App-Version is the package version', () => {
  let ecallmgr: EcallmgrHarness | undefined;
  let registrar: RegistrarHarness | undefined;
  afterEach(async () => {
    await ecallmgr?.close();
    await registrar?.close();
    ecallmgr = registrar = undefined;
  });

  it('the built-in apps declare it as their version', () => {
    expect(ecallmgrApp.version).toBe(PACKAGE_VERSION);
    expect(registrarApp.version).toBe(PACKAGE_VERSION);
    expect(callflowApp.version).toBe(PACKAGE_VERSION);
  });

  it("ecallmgr's route_req carries it", async () => {
    ecallmgr = await startEcallmgr();
    const { callId } = await ecallmgr.placeRoutedCall();
    const req = await ecallmgr.app.waitFor(
      (m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId,
      'route_req',
    );
    expect(req['App-Name']).toBe('ecallmgr');
    expect(req['App-Version']).toBe(PACKAGE_VERSION);
  });

  it("the registrar's authn reply carries it", async () => {
    registrar = await startRegistrar();
    await registrar.startRegistrar();
    const reply = await askAuthn(registrar, 'nobody', 'sip.version.test');
    expect(reply['App-Name']).toBe('registrar');
    expect(reply['App-Version']).toBe(PACKAGE_VERSION);
  });
});
