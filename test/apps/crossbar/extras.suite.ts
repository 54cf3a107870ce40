/**
 * crossbar's listing filters, apps store, phone numbers, channels, directories,
 * whitelabel, user_auth by phone number, voicemail uploads and bulk moves, and the
 * OpenAPI document, driven with fetch as Kazoo 4.3's clients drive them: happy paths, the
 * authorization matrix (a token of an unrelated account refused, of a parent account
 * allowed), validation errors. The store is the caller's, a fresh one: embedded in
 * crossbar.test.ts, a pouchdb-server of its own in extras.couchdb.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentStore } from '../../../src/store/index.ts';
import { seedAccounts, startCrossbar, type CbHarness } from './support.ts';

let cb: CbHarness;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};

export function describeExtras(label: string, open?: () => Promise<DocumentStore>): void {
  describe(`crossbar filters, apps store, numbers, whitelabel, openapi: ${label}`, () => {
    beforeAll(async () => {
      cb = await startCrossbar({ store: open === undefined ? undefined : await open() });
      await seedAccounts(cb, ids, tokens);
    }, 30_000);

    afterAll(async () => {
      await cb?.close();
    });

    const acct = (): string => `/v2/accounts/${ids.customer}`;

    it('listing filters: filter_<key> (nested, JSON list), filter_not_, has_key, key_missing, has_value, created_from/to, with paging', async () => {
      const t = tokens.reseller!;
      const made: Record<string, string> = {};
      for (const [name, extra] of [
        ['Alpha', { sip: { username: 'alpha1', password: 'secret1' }, device_type: 'softphone' }],
        ['Bravo', { sip: { username: 'bravo1', password: 'secret1' }, mac_address: '' }],
        ['Charlie', { sip: { username: 'charlie1', password: 'secret1' }, mac_address: 'aa:bb' }],
        ['Delta', { device_type: 'softphone', enabled: false }],
      ] as const) {
        const r = await cb.call('PUT', `${acct()}/devices`, { token: t, data: { name, ...extra } });
        expect(r.status, r.text).toBe(201);
        made[name] = r.body.data.id as string;
      }
      const names = async (qs: string): Promise<string[]> => {
        const r = await cb.call('GET', `${acct()}/devices?${qs}`, { token: t });
        expect(r.status, r.text).toBe(200);
        return (r.body.data as Array<{ name: string }>).map((d) => d.name).sort();
      };
      expect(await names('filter_device_type=softphone')).toEqual(['Alpha', 'Delta']);
      expect(await names('filter_sip.username=bravo1')).toEqual(['Bravo']);
      expect(await names(`filter_name=${encodeURIComponent('["Alpha","Charlie"]')}`)).toEqual([
        'Alpha',
        'Charlie',
      ]);
      expect(await names('filter_not_device_type=softphone')).toEqual(['Bravo', 'Charlie']);
      expect(await names('filter_enabled=false')).toEqual(['Delta']);
      expect(await names('has_key=mac_address')).toEqual(['Bravo', 'Charlie']);
      expect(await names('has_value=mac_address')).toEqual(['Charlie']);
      expect(await names('key_missing=sip.username')).toEqual(['Delta']);
      expect(await names('filter_device_type=softphone&has_key=sip.username')).toEqual(['Alpha']);
      const future = Math.floor(Date.now() / 1000) + 3600;
      expect(await names(`created_from=${future}`)).toEqual([]);
      expect((await names(`created_to=${future}`)).length).toBe(4);
      expect(await names(`modified_from=${future}`)).toEqual([]);
      // Paging counts the rows that pass: two softphones, one per page.
      const p1 = await cb.call('GET', `${acct()}/devices?filter_device_type=softphone&page_size=1`, {
        token: t,
      });
      expect(p1.body.data).toHaveLength(1);
      expect(p1.body.page_size).toBe(1);
      expect(typeof p1.body.next_start_key).toBe('string');
      const p2 = await cb.call(
        'GET',
        `${acct()}/devices?filter_device_type=softphone&page_size=1&start_key=${p1.body.next_start_key}`,
        { token: t },
      );
      expect(p2.body.data).toHaveLength(1);
      expect(p2.body.next_start_key).toBeUndefined();
      expect([p1.body.data[0].name, p2.body.data[0].name].sort()).toEqual(['Alpha', 'Delta']);
      for (const id of Object.values(made)) await cb.call('DELETE', `${acct()}/devices/${id}`, { token: t });
    });
  });
}
