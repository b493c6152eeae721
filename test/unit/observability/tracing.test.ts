import { loadSettings } from '../../../src/config/load';
import { traceLogFields, tracingRequested } from '../../../src/observability/tracing';

/** The standard variables a platform sets (OpenTelemetry Operator, a collector side-car…). */
const STANDARD_OTEL = {
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Basic dXNlcjpwYXNz',
  OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
  OTEL_SERVICE_NAME: 'miles-bff',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=production,k8s.namespace.name=miles',
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.1',
  OTEL_PROPAGATORS: 'tracecontext,baggage',
  OTEL_BSP_SCHEDULE_DELAY: '5000',
  OTEL_BSP_MAX_QUEUE_SIZE: '2048',
  OTEL_LOG_LEVEL: 'warn',
};

describe('tracing settings', () => {
  it('are the standard OTEL_* variables, which the settings loader leaves to the SDK', () => {
    expect(() => loadSettings(STANDARD_OTEL)).not.toThrow();
  });

  it('turn tracing on with an OTLP endpoint, for every signal or for traces alone', () => {
    expect(tracingRequested(STANDARD_OTEL)).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
  });

  it('leave it off without an endpoint, whatever else is set', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ ...STANDARD_OTEL, OTEL_EXPORTER_OTLP_ENDPOINT: undefined })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false);
  });

  it('leave it off when the standard switches say so', () => {
    expect(tracingRequested({ ...STANDARD_OTEL, OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingRequested({ ...STANDARD_OTEL, OTEL_SDK_DISABLED: 'TRUE' })).toBe(false);
    expect(tracingRequested({ ...STANDARD_OTEL, OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(tracingRequested({ ...STANDARD_OTEL, OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
  });

  it('add no field to a log line outside a span, and a new object each time (pino merges into it)', () => {
    const first = traceLogFields();
    expect(first).toEqual({});
    expect(Object.isFrozen(first)).toBe(false);
    expect(traceLogFields()).not.toBe(first);
  });
});
