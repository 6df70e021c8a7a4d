/**
 * The messaging contract on the embedded broker: plain (state lives as long as the driver), and
 * with a journal, where a restart builds a new broker from the journal alone, the way a durable
 * embedded backend would.
 */
import { ArrayJournal } from "../../plugins/messaging/journal.ts";
import { MemoryMessaging, type MemoryMessagingOptions } from "../../plugins/messaging/memory.ts";
import type { MessagingDriver } from "../../plugins/messaging/driver.ts";
import { runMessagingContract } from "./messaging_contract.ts";

const base: MemoryMessagingOptions = {
  scope: "messaging",
  maxPayload: 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
};

runMessagingContract("memory", {
  open: () => new MemoryMessaging(base),
  // Without a journal the broker is the driver: restarting it means a new one.
  restartable: {
    open: () => new MemoryMessaging(base),
    async restart(driver) {
      await driver.close();
      const next = new MemoryMessaging(base);
      await next.connect();
      return next;
    },
  },
});

const journals = new WeakMap<MessagingDriver, ArrayJournal>();
const ackSecret = crypto.randomUUID() + crypto.randomUUID();
function journaled(journal = new ArrayJournal()): MessagingDriver {
  const driver = new MemoryMessaging({ ...base, journal, ackSecret });
  journals.set(driver, journal);
  return driver;
}

runMessagingContract("memory with a journal", {
  open: () => journaled(),
  restartable: {
    open: () => journaled(),
    async restart(driver) {
      await driver.close();
      const next = journaled(journals.get(driver));
      await next.connect();
      return next;
    },
  },
});
