/**
 * What one tool call's state writes may have changed, for the answer the call gives when it fails (issue #15 §5).
 * A write counts from the moment its statement is sent until it is known to have changed nothing (refused, lost
 * a compare-and-set); a committed write, or one whose answer never came, keeps counting. A call that fails while
 * anything counts answers OUTCOME_UNKNOWN; otherwise its error is a guarantee that it changed nothing.
 */
export class CallWrites {
  private uncertain = 0;

  /** A write's statement goes out now. Returns how to settle it: `changed` false = it did nothing, for sure. */
  sent(): (changed: boolean) => void {
    this.uncertain++;
    let settled = false;
    return (changed) => {
      if (!settled && !changed) this.uncertain--;
      settled = true;
    };
  }

  /** Some write of this call has changed state, or may have. */
  get mayHaveChanged(): boolean {
    return this.uncertain > 0;
  }
}
