import type { Bus, BusHandler, BusMessage } from './bus.js';

/** The in-process bus of a single replica: publish calls the handler directly, in order. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly topics = new Set<string>();
  private handler: BusHandler = () => {};

  async publish(message: BusMessage): Promise<void> {
    if (this.topics.has(message.topic)) this.handler(message);
  }

  async subscribe(topic: string): Promise<void> {
    this.topics.add(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
  }

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  onResync(): void {
    // Nothing is ever lost in process.
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.topics.clear();
  }
}
