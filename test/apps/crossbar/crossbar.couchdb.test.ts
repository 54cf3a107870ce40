/**
 * crossbar's behaviour suite (crossbar.suite.ts) on the CouchDB adapter: pouchdb-server
 * started by this file, or the CouchDB named by FIFE_TEST_COUCHDB_URL. Under
 * FIFE_REQUIRE_SERVICES=1 a server that cannot start fails.
 */
import { afterAll, describe } from 'vitest';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { CouchStore } from '../../../src/store/index.ts';
import { serviceGate } from '../../support/services.ts';
import { startCouchTestServer, type CouchTestServer } from '../../support/couchdb-server.ts';
import { describeCrossbar } from './crossbar.suite.ts';

let server: CouchTestServer | undefined;
const gate = await serviceGate('CouchDB-protocol server', async () => {
  server = await startCouchTestServer();
});
afterAll(async () => server?.close());

describe.skipIf(!gate.available)('crossbar on CouchDB', () => {
  describeCrossbar(
    'couchdb store',
    async () => new CouchStore({ url: server!.url, logger: memoryLogger().logger }),
  );
});
