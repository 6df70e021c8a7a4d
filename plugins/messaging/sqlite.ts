/**
 * The durable embedded messaging backend: the in-process broker (`memory.ts`) with its state
 * kept in an SQLite file through {@linkcode SqliteJournal}. Every connect builds the broker
 * from the file, so it holds exactly what was committed: after a restart, and after a failed
 * commit, which leaves the broker ahead of its file (the driver then reports itself down until
 * the core reconnects it). Ack tokens are signed with a secret kept in the file unless one is
 * configured, so tokens issued before a restart still ack after it.
 */
import type { HealthReport } from "../../core/plugin.ts";
import type { Durability } from "../../core/sqlite.ts";
import type {
  AckAction,
  AckOptions,
  ConsumerInfo,
  ConsumerPage,
  ConsumerSpec,
  DeliveredMessage,
  FetchOptions,
  MessagingDriver,
  MessagingFeature,
  OutgoingMessage,
  Page,
  PubAck,
  PublishOptions,
  ReplyMessage,
  RequestHandler,
  Responder,
  StreamInfo,
  StreamPage,
  StreamSpec,
  SubscribeOptions,
  Subscription,
} from "./driver.ts";
import { messagingError } from "./errors.ts";
import { MemoryMessaging, type MemoryMessagingOptions } from "./memory.ts";
import { SqliteJournal } from "./sqlite_journal.ts";

/** Options of {@linkcode SqliteMessaging}. */
export interface SqliteMessagingOptions extends Omit<MemoryMessagingOptions, "journal"> {
  /** The data file's absolute path; called at connect (it claims the data directory). */
  file: () => string;
  durability: Durability;
}

/** A responder registered through this driver, re-registered on every broker it builds. */
interface Registration {
  subject: string;
  handler: RequestHandler;
  current: Responder | undefined;
}

/** The broker on an SQLite file. */
export class SqliteMessaging implements MessagingDriver {
  readonly backend = "sqlite";
  readonly features: ReadonlySet<MessagingFeature> = new Set(["persistence"]);
  readonly #options: SqliteMessagingOptions;
  readonly #responders = new Set<Registration>();
  #broker: MemoryMessaging | undefined;
  #journal: SqliteJournal | undefined;

  constructor(options: SqliteMessagingOptions) {
    this.#options = options;
  }

  async connect(): Promise<void> {
    if (this.#broker && !this.#journal?.failure) return;
    // A broken broker (its last commit failed) is dropped for one built from the file.
    await this.#shutDown();
    const { file, durability, ...options } = this.#options;
    const journal = new SqliteJournal({ file: file(), durability });
    try {
      const broker = new MemoryMessaging({
        ...options,
        ackSecret: options.ackSecret ?? journal.ackSecret(),
        journal,
      });
      await broker.connect();
      for (const registration of this.#responders) {
        registration.current = await broker.respond(registration.subject, registration.handler);
      }
      this.#broker = broker;
      this.#journal = journal;
    } catch (error) {
      await journal.close().catch(() => {});
      throw error;
    }
  }

  ping(): HealthReport {
    const failure = this.#journal?.failure;
    if (failure) {
      return { status: "down", detail: `cannot write ${this.#journal!.file}: ${failure.message}` };
    }
    return this.#broker?.ping() ?? { status: "down", detail: "broker stopped" };
  }

  maxPayload(): number {
    return this.#options.maxPayload;
  }

  async publish(
    subject: string,
    message: OutgoingMessage,
    options?: PublishOptions,
  ): Promise<PubAck> {
    return await this.#current().publish(subject, message, options);
  }

  async subscribe(filter: string, options: SubscribeOptions): Promise<Subscription> {
    return await this.#current().subscribe(filter, options);
  }

  async request(subject: string, message: OutgoingMessage, timeout: number): Promise<ReplyMessage> {
    return await this.#current().request(subject, message, timeout);
  }

  async respond(subject: string, handler: RequestHandler): Promise<Responder> {
    const registration: Registration = {
      subject,
      handler,
      current: await this.#current().respond(subject, handler),
    };
    this.#responders.add(registration);
    return {
      close: async () => {
        this.#responders.delete(registration);
        await registration.current?.close();
      },
    };
  }

  async listStreams(page: Page): Promise<StreamPage> {
    return await this.#current().listStreams(page);
  }

  async streamInfo(name: string): Promise<StreamInfo> {
    return await this.#current().streamInfo(name);
  }

  async putStream(spec: StreamSpec): Promise<{ info: StreamInfo; created: boolean }> {
    return await this.#current().putStream(spec);
  }

  async deleteStream(name: string): Promise<void> {
    await this.#current().deleteStream(name);
  }

  async listConsumers(stream: string, page: Page): Promise<ConsumerPage> {
    return await this.#current().listConsumers(stream, page);
  }

  async consumerInfo(stream: string, name: string): Promise<ConsumerInfo> {
    return await this.#current().consumerInfo(stream, name);
  }

  async putConsumer(spec: ConsumerSpec): Promise<{ info: ConsumerInfo; created: boolean }> {
    return await this.#current().putConsumer(spec);
  }

  async deleteConsumer(stream: string, name: string): Promise<void> {
    await this.#current().deleteConsumer(stream, name);
  }

  async fetch(
    stream: string,
    consumer: string,
    options: FetchOptions,
  ): Promise<DeliveredMessage[]> {
    return await this.#current().fetch(stream, consumer, options);
  }

  async ack(token: string, action: AckAction, options?: AckOptions): Promise<void> {
    await this.#current().ack(token, action, options);
  }

  /** Stops the broker, commits what it buffered and closes the file; safe to call twice. */
  async close(): Promise<void> {
    await this.#shutDown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The broker to use, unless it is stopped or ahead of its file. */
  #current(): MemoryMessaging {
    const broker = this.#broker;
    if (!broker) throw messagingError.unavailable("The embedded broker is stopped");
    const failure = this.#journal?.failure;
    if (failure) {
      throw messagingError.unavailable(
        `The embedded broker is reloading its data file after a failed write: ${failure.message}`,
        failure,
      );
    }
    return broker;
  }

  async #shutDown(): Promise<void> {
    const broker = this.#broker;
    const journal = this.#journal;
    this.#broker = undefined;
    this.#journal = undefined;
    if (!broker || !journal) return;
    try {
      await broker.close();
    } catch (error) {
      // A broker whose journal failed cannot flush; its failure was reported already.
      if (!journal.failure) throw error;
    } finally {
      await journal.close().catch((error) => {
        if (!journal.failure) throw error;
      });
    }
  }
}

SqliteMessaging satisfies new (options: SqliteMessagingOptions) => MessagingDriver;
