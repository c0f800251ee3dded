/**
 * The job queue between intake and workers: FIFO per group (one group per
 * incident), de-duplicated on send, at-least-once delivery with a visibility
 * timeout, dead-lettered after a bounded number of receives.
 * One-box: SQLite. AWS: SQS FIFO (+ DLQ via redrive policy).
 */
export interface OutgoingMessage {
  /** Messages of one group are delivered in order, one in flight at a time. */
  groupId: string;
  /** A second send with the same id inside the de-dup window is dropped. */
  dedupId: string;
  body: string;
}

export interface SendResult {
  /** true when the queue knows it dropped a duplicate; undefined when it cannot tell (SQS). */
  duplicate?: boolean;
}

export interface ReceivedMessage {
  messageId: string;
  groupId: string;
  dedupId: string;
  body: string;
  /** 1 on first delivery. */
  receiveCount: number;
  /** Opaque handle for ack/retry. */
  receipt: string;
}

export interface ReceiveOptions {
  max: number;
  /** How long received messages stay invisible. */
  visibilityMs: number;
  /** Long-poll up to this long when nothing is visible. */
  waitMs?: number;
}

export interface QueueStats {
  visible: number;
  inFlight: number;
  dead: number;
  /**
   * Age of the oldest message not yet done, when the engine can tell (SQLite;
   * SQS reports it only as the CloudWatch metric ApproximateAgeOfOldestMessage,
   * which the stage alarms on). Absent when the queue is empty.
   */
  oldestAgeMs?: number;
}

export interface JobQueue {
  send(message: OutgoingMessage): Promise<SendResult>;
  receive(options: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** Done: delete the message. */
  ack(receipt: string): Promise<void>;
  /** Failed: make it visible again after delayMs (counts as a receive when redelivered). */
  retry(receipt: string, delayMs: number): Promise<void>;
  stats(): Promise<QueueStats>;
  /** Messages moved to the dead-letter queue (peek, not consumed). */
  deadLetters(limit: number): Promise<ReceivedMessage[]>;
  close(): Promise<void>;
}
