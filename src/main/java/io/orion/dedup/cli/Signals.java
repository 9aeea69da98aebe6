package io.orion.dedup.cli;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * Runs an action on SIGTERM and SIGINT instead of letting the JVM exit with 143/130, so
 * {@code serve} can shut down cleanly and exit 0. Uses {@code sun.misc.Signal} (module
 * jdk.unsupported) reflectively; where that is unavailable, falls back to a shutdown hook.
 */
final class Signals {

    private Signals() {}

    /** Installs {@code action} for TERM and INT; returns false if only a shutdown hook could be used. */
    static boolean onTermination(Runnable action) {
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
            handle.invoke(null, ctor.newInstance("TERM"), proxy);
            handle.invoke(null, ctor.newInstance("INT"), proxy);
            return true;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            Runtime.getRuntime().addShutdownHook(new Thread(action, "orion-shutdown"));
            return false;
        }
    }
}
