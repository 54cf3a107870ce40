/**
 * The bus behaviour suite on the embedded broker (always runs).
 */
import { describe } from 'vitest';
import { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';
import { makeEnv } from './support/bus-env.ts';
import { busBehaviourSuite } from './suite/bus-behaviour.ts';

const broker = new EmbeddedBroker();
const stopped = new EmbeddedBroker();
stopped.stopApp();
const env = makeEnv('embedded', 'embedded', () => broker, { url: 'embedded', broker: () => stopped });

describe('bus on the embedded broker', () => busBehaviourSuite(() => env));
