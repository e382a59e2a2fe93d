import type { Bus, BusHandler, BusMessage } from '../../bus/bus.js';
import type { Metrics } from './metrics.js';

/**
 * The bus, counting what it carries: one increment per message published or received, never per
 * subscriber or socket it then reaches.
 */
export class CountedBus implements Bus {
  readonly kind: Bus['kind'];

  constructor(
    private readonly bus: Bus,
    private readonly metrics: Pick<Metrics, 'busPublished' | 'busReceived'>,
  ) {
    this.kind = bus.kind;
  }

  publish(message: BusMessage): Promise<void> {
    this.metrics.busPublished.inc();
    return this.bus.publish(message);
  }

  onMessage(handler: BusHandler): void {
    const received = this.metrics.busReceived;
    this.bus.onMessage((message) => {
      received.inc();
      handler(message);
    });
  }

  subscribe(topic: string): Promise<void> {
    return this.bus.subscribe(topic);
  }

  unsubscribe(topic: string): Promise<void> {
    return this.bus.unsubscribe(topic);
  }

  onResync(handler: () => void): void {
    this.bus.onResync(handler);
  }

  healthy(): boolean {
    return this.bus.healthy();
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}
