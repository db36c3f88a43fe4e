import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { AppConfig } from '../config/app-config.js';

/** A span and the context in which its children run. */
export interface ActiveSpan {
  span: Span;
  /** Calls `fn` with this span active (async work started inside inherits it). */
  run<T>(fn: () => T): T;
  end(attributes: Attributes, failed: boolean): void;
}

/**
 * OpenTelemetry tracing, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set. When on, the OpenTelemetry Node SDK
 * exports spans over OTLP/HTTP (JSON) to `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces`; the HTTP interceptor opens a
 * server span per request that continues an incoming W3C `traceparent`, and the tool pipeline opens a child
 * span per tool call (tool, version, agent, outcome). When off, every method is a no-op.
 *
 * The SDK registers the process-wide OpenTelemetry globals: one tracing-enabled app per process.
 */
@Injectable()
export class Tracing implements OnModuleInit, OnApplicationShutdown {
  private sdk?: NodeSDK;

  constructor(private readonly config: AppConfig) {}

  /** The SDK is imported only when tracing is on: it adds ≈ 11 MB to every process that loads it. */
  async onModuleInit(): Promise<void> {
    const endpoint = this.config.telemetry.otlpEndpoint;
    if (!endpoint) return;
    // One after the other: Jest's ESM loader fails on concurrent imports that share modules.
    const { NodeSDK } = await import('@opentelemetry/sdk-node');
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    this.sdk = new NodeSDK({
      serviceName: this.config.telemetry.serviceName,
      traceExporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }),
      instrumentations: [],
      logRecordProcessors: [],
    });
    this.sdk.start();
  }

  get enabled(): boolean {
    return this.sdk !== undefined;
  }

  /** A server span for an HTTP request, continuing the caller's trace when it sent `traceparent`. */
  startHttpSpan(
    name: string,
    headers: Record<string, unknown>,
    attributes: Attributes,
  ): ActiveSpan | undefined {
    if (!this.sdk) return undefined;
    const parent = propagation.extract(context.active(), headers);
    return this.start(name, SpanKind.SERVER, parent, attributes);
  }

  /** A span for one tool call, a child of the active (HTTP) span. */
  startToolSpan(toolName: string, attributes: Attributes): ActiveSpan | undefined {
    if (!this.sdk) return undefined;
    return this.start(
      `tools/call ${toolName.slice(0, 128)}`,
      SpanKind.INTERNAL,
      context.active(),
      attributes,
    );
  }

  private start(name: string, kind: SpanKind, parent: Context, attributes: Attributes): ActiveSpan {
    const span = trace.getTracer('mcp-production').startSpan(name, { kind, attributes }, parent);
    const active = trace.setSpan(parent, span);
    return {
      span,
      run: (fn) => context.with(active, fn),
      end: (more, failed) => {
        span.setAttributes(more);
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  }

  /** Exports what is buffered and releases the globals (so another app in this process may trace). */
  async onApplicationShutdown(): Promise<void> {
    if (!this.sdk) return;
    await this.sdk.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  }
}
