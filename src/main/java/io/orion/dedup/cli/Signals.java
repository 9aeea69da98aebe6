package io.orion.dedup.cli;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * Runs an action on SIGTERM and SIGINT instead of letting the JVM exit with 143/130, so
 * {@code serve} can shut down cleanly and exit 0. Uses {@code sun.misc.Signal} (module
 * jdk.unsupported) reflectively. A shutdown hook runs the action too, for every other way the JVM
 * may end (System.exit, SIGHUP when no {@link #onHangup} handler is installed); the action must be
 * idempotent. {@code serve} installs a SIGHUP handler that reloads the target files.
 */
final class Signals {

    private Signals() {}

    /** Installs {@code action}; returns how many of TERM and INT could be intercepted. */
    static int onTermination(Runnable action) {
        Runtime.getRuntime().addShutdownHook(new Thread(action, "shutdown"));
        return handle(action, "TERM", "INT");
    }

    /**
     * Runs {@code action} on SIGHUP (reload) instead of ending the JVM; false when it cannot be
     * intercepted, e.g. when the process was started with SIGHUP ignored (nohup).
     */
    static boolean onHangup(Runnable action) {
        return handle(action, "HUP") == 1;
    }

    private static int handle(Runnable action, String... names) {
        int installed = 0;
        for (String name : names) {
            try {
                Class<?> signal = Class.forName("sun.misc.Signal");
                Class<?> handler = Class.forName("sun.misc.SignalHandler");
                Constructor<?> ctor = signal.getConstructor(String.class);
                Method handle = signal.getMethod("handle", signal, handler);
                Object proxy = Proxy.newProxyInstance(Signals.class.getClassLoader(), new Class<?>[] {handler},
                        (p, m, args) -> switch (m.getName()) {
                            case "handle" -> {
                                action.run();
                                yield null;
                            }
                            case "equals" -> p == args[0];
                            case "hashCode" -> System.identityHashCode(p);
                            case "toString" -> "orion-dedup termination handler";
                            default -> null;
                        });
                Object old = handle.invoke(null, ctor.newInstance(name), proxy);
                // a signal ignored when the JVM started (nohup ignores HUP) stays ignored: the JVM
                // keeps it so and answers with SIG_IGN instead of installing the handler
                if (old != null && old == handler.getField("SIG_IGN").get(null)) {
                    continue;
                }
                installed++;
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                // The shutdown hook still closes the server; the exit status is then the JVM's.
            }
        }
        return installed;
    }
}
