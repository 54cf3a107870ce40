/**
 * The registrar's credentials table (apps/registrar/credentials.ts, CredentialTable):
 * rows dropped by the changes of their origin documents, loads that raced a change
 * refused, the oldest row evicted past the bound, the origin index rebuilt by a new owner.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { Runtime, Table, type Pid, type ProcessContext } from '../../../src/kernel/index.ts';
import { CredentialTable, origin, type CredRow } from '../../../apps/registrar/credentials.ts';

const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.shutdown();
});

function owner(): { rt: Runtime; ctx: ProcessContext; pid: Pid } {
  const rt = new Runtime({ node: 'creds-test@localhost' });
  runtimes.push(rt);
  const pid = rt.spawn(() => undefined);
  return { rt, ctx: rt.context(pid)!, pid };
}

const acct = origin('accounts', 'a1');
const dev = (id: string) => origin('account%2Fa1', id);

describe('CredentialTable', () => {
  it('a change of an origin document drops exactly the rows from it; an account change drops all its users', () => {
    const { ctx } = owner();
    const c = new CredentialTable(
      Table.create<string, CredRow | string | number>(ctx, { name: 'creds' }),
      100,
    );
    expect(c.remember('c\0r\0alice', { kind: 'found' }, [acct, dev('d1')], 0)).toBe(true);
    expect(c.remember('c\0r\0bob', { kind: 'found' }, [acct, dev('d2')], 0)).toBe(true);
    expect(c.change('account/a1', { id: 'd1', seq: '5' })).toBe(1);
    expect(c.table.member('c\0r\0alice')).toBe(false);
    expect(c.table.member('c\0r\0bob')).toBe(true);
    expect(c.sequences()).toEqual([['account/a1', '5']]);
    expect(c.change('accounts', { id: 'a1', seq: '9' })).toBe(1);
    expect(c.cached).toBe(0);
  });

  it('a load that began before a change is not kept (it may be stale)', () => {
    const { ctx } = owner();
    const c = new CredentialTable(
      Table.create<string, CredRow | string | number>(ctx, { name: 'creds' }),
      100,
    );
    c.change('accounts', { id: 'other', seq: '1' });
    expect(c.remember('c\0r\0alice', { kind: 'found' }, [acct], 0)).toBe(false);
    expect(c.remember('c\0r\0alice', { kind: 'found' }, [acct], 1)).toBe(true);
  });

  it('past the bound the oldest row goes', () => {
    const { ctx } = owner();
    const c = new CredentialTable(Table.create<string, CredRow | string | number>(ctx, { name: 'creds' }), 2);
    c.remember('c\0r\0u1', 1, [dev('d1')], 0);
    c.remember('c\0r\0u2', 2, [dev('d2')], 0);
    c.remember('c\0r\0u3', 3, [dev('d3')], 0);
    expect([...c.table.entries()].map(([k]) => k)).toEqual(['c\0r\0u2', 'c\0r\0u3']);
    expect(c.change('account/a1', { id: 'd1', seq: '2' })).toBe(0);
  });

  it('a new owner of the rows (a restarted reg_authn) rebuilds the origin index from the table', () => {
    const { rt, ctx } = owner();
    const t = Table.create<string, CredRow | string | number>(ctx, { name: 'creds' });
    new CredentialTable(t, 100).remember('c\0r\0alice', { kind: 'found' }, [acct, dev('d1')], 0);
    const again = new CredentialTable(Table.open(rt.context(t.info().owner)!, 'creds'), 100);
    expect(again.change('account%2Fa1', { id: 'd1', seq: '3' })).toBe(1);
  });
});
