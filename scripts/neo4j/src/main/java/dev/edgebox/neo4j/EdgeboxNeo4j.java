package dev.edgebox.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

/**
 * Runs an embedded Neo4j Community DBMS that serves Bolt, as a stand-in for the
 * Neo4j server distribution (which cannot be downloaded on our machines).
 *
 * <p>Settings come from environment variables, and {@code --key=value} arguments
 * win over them:
 * <ul>
 *   <li>NEO4J_BOLT_ADDRESS / --bolt-address (default 127.0.0.1:7687)</li>
 *   <li>NEO4J_DATA_DIR / --data-dir (default ./data/neo4j; the DBMS home)</li>
 *   <li>NEO4J_PASSWORD / --password (default edgebox-local; user is neo4j)</li>
 *   <li>NEO4J_PAGECACHE_MB / --pagecache-mb (default 256)</li>
 * </ul>
 *
 * <p>Once Bolt is up and the password is set, the PID is written to
 * {@code <data-dir>/edgebox.ready}; readiness probes look for that file because
 * an open Bolt port alone does not mean the password has been applied yet.
 */
public final class EdgeboxNeo4j {
    private static final String READY_FILE = "edgebox.ready";

    private EdgeboxNeo4j() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parseArgs(args);
        String bolt = opt(opts, "bolt-address", "NEO4J_BOLT_ADDRESS", "127.0.0.1:7687");
        // Neo4j rejects non-normalized paths such as /repo/./data/neo4j.
        Path home = Path.of(opt(opts, "data-dir", "NEO4J_DATA_DIR", "data/neo4j")).toAbsolutePath().normalize();
        String password = opt(opts, "password", "NEO4J_PASSWORD", "edgebox-local");
        long pageCacheMb = Long.parseLong(opt(opts, "pagecache-mb", "NEO4J_PAGECACHE_MB", "256"));

        Files.createDirectories(home);
        Path readyFile = home.resolve(READY_FILE);
        // A file left by a killed (-9) run must not make a starting instance look ready.
        Files.deleteIfExists(readyFile);

        log("starting Neo4j (home=" + home + ", bolt=" + bolt + ")");
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, parseAddress(bolt))
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheMb * 1024 * 1024)
                // Bolt otherwise idles 2 x 5 s while shutting down, which makes every
                // stop/down of the stack 10 s slower. Internal settings, pinned version.
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean shutdownDone = new AtomicBoolean(false);
        // SIGTERM/SIGINT run shutdown hooks; a clean shutdown flushes the store so the
        // next start does not need recovery.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (shutdownDone.compareAndSet(false, true)) {
                log("signal received, shutting down");
                deleteQuietly(readyFile);
                dbms.shutdown();
                log("stopped");
            }
            stopped.countDown();
        }, "edgebox-neo4j-shutdown"));

        try {
            applyPassword(dbms, password);
        } catch (RuntimeException e) {
            log("failed to set the neo4j password: " + e.getMessage());
            System.exit(1);
        }

        Files.writeString(readyFile, ProcessHandle.current().pid() + "\n", StandardCharsets.UTF_8);
        log("ready on bolt://" + bolt + " (user neo4j)");
        stopped.await();
    }

    /**
     * Makes NEO4J_PASSWORD the neo4j user's password on every start, so that changing
     * the variable is enough and the default "must change password" state never leaks.
     */
    private static void applyPassword(DatabaseManagementService dbms, String password) {
        try {
            dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
            log("password for user neo4j applied");
        } catch (RuntimeException e) {
            // Neo4j refuses to "change" a password to the value it already has.
            String msg = String.valueOf(e.getMessage());
            if (msg.contains("cannot be the same")) {
                log("password for user neo4j already set");
                return;
            }
            throw e;
        }
    }

    private static Map<String, String> parseArgs(String[] args) {
        Map<String, String> out = new java.util.HashMap<>();
        for (String a : args) {
            if (!a.startsWith("--") || !a.contains("=")) {
                throw new IllegalArgumentException("expected --key=value, got: " + a);
            }
            int eq = a.indexOf('=');
            out.put(a.substring(2, eq), a.substring(eq + 1));
        }
        return out;
    }

    private static String opt(Map<String, String> opts, String arg, String env, String dflt) {
        String v = opts.get(arg);
        if (v == null || v.isEmpty()) {
            v = System.getenv(env);
        }
        return (v == null || v.isEmpty()) ? dflt : v;
    }

    private static SocketAddress parseAddress(String hostPort) {
        int i = hostPort.lastIndexOf(':');
        if (i <= 0) {
            throw new IllegalArgumentException("bolt address must be host:port, got: " + hostPort);
        }
        return new SocketAddress(hostPort.substring(0, i), Integer.parseInt(hostPort.substring(i + 1)));
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // Best effort: a stale file is also removed on the next start.
        }
    }

    private static void log(String msg) {
        System.out.println("[edgebox-neo4j] " + msg);
        System.out.flush();
    }
}
