/** reg_query with the store unreachable, on the embedded bus (reg-query-faults.suite.ts). */
import { regQueryFaultSuite } from './reg-query-faults.suite.ts';

regQueryFaultSuite();
