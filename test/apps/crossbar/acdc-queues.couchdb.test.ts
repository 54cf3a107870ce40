/**
 * crossbar's queues and agents suite (acdc-queues.suite.ts) on the CouchDB adapter, against
 * a pouchdb-server of its own (the suite creates the first account of its store, which
 * must be a fresh one). Under FIFE_REQUIRE_SERVICES=1 a server that cannot start fails.
 */
import { afterAll, describe } from 'vitest';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { CouchStore } from '../../../src/store/index.ts';
import { serviceGate } from '../../support/services.ts';
import { startCouchTestServer, type CouchTestServer } from '../../support/couchdb-server.ts';
import { describeAcdcQueues } from './acdc-queues.suite.ts';

let server: CouchTestServer | undefined;
const gate = await serviceGate('CouchDB-protocol server', async () => {
  server = await startCouchTestServer({ spawn: true });
});
afterAll(async () => server?.close());

describe.skipIf(!gate.available)('crossbar queues and agents on CouchDB', () => {
  describeAcdcQueues(
    'couchdb store',
    async () => new CouchStore({ url: server!.url, logger: memoryLogger().logger }),
  );
});
