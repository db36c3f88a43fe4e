/** Types for parse-prometheus-text-format 1.1 (the package ships none): only what the tests use. */
declare module 'parse-prometheus-text-format' {
  namespace parsePrometheusTextFormat {
    interface ParsedSample {
      value?: string;
      labels?: Record<string, string>;
      timestamp_ms?: string;
    }
    interface ParsedFamily {
      name: string;
      help: string;
      /** Upper case: COUNTER, GAUGE, HISTOGRAM, SUMMARY or UNTYPED. */
      type: string;
      metrics: ParsedSample[];
    }
  }
  /** Throws `InvalidLineError` on a line it cannot read. */
  function parsePrometheusTextFormat(text: string): parsePrometheusTextFormat.ParsedFamily[];
  export = parsePrometheusTextFormat;
}
