import { describe } from 'vitest';
import { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';
import { cacheSyncSuite } from './cache-sync-suite.ts';

const broker = new EmbeddedBroker();
describe('cache_sync on the embedded bus', () => cacheSyncSuite('embedded', () => broker));
