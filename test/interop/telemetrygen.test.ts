// The Go SDK through the Collector's telemetrygen over OTLP/HTTP (over gRPC:
// grpc.test.ts): each trace a CLIENT root with a SERVER child, both carrying
// the same GenAI attributes. One request per trace, its tokens once.
import { interopSuite, telemetrygenCase } from './suite.ts';

interopSuite([telemetrygenCase('telemetrygen')]);
