package io.orion.dedup.cli;

import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.OrionConfig;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Finds the server for {@code serve} without a compile-time dependency from the CLI on the server
 * package: the class named by the system property {@code orion.server.class} when it is set (tests
 * put a stand-in server there); otherwise a {@link ServiceLoader} provider of
 * {@link ServerLauncher}; otherwise {@link #DEFAULT_CLASS}; a class is used through a static
 * {@code start} method of the {@link ServerLauncher#start} signature.
 */
public final class ServerLaunchers {

    /** The server class looked up when no provider is registered. */
    public static final String DEFAULT_CLASS = "io.orion.dedup.server.OrionServer";

    private ServerLaunchers() {}

    /** The launcher of this build, if it has a server. */
    public static Optional<ServerLauncher> find() {
        String explicit = System.getProperty("orion.server.class");
        if (explicit != null) {
            return reflective(explicit);
        }
        Optional<ServerLauncher> provided = ServiceLoader.load(ServerLauncher.class).findFirst();
        if (provided.isPresent()) {
            return provided;
        }
        return reflective(DEFAULT_CLASS);
    }

    /** A launcher calling {@code className.start(...)} reflectively; empty when there is no such class. */
    static Optional<ServerLauncher> reflective(String className) {
        Class<?> cls;
        Method start;
        try {
            cls = Class.forName(className);
            start = cls.getMethod("start", OrionConfig.class, Path.class, Path.class, Path.class, List.class);
        } catch (ClassNotFoundException | NoSuchMethodException e) {
            return Optional.empty();
        }
        return Optional.of((config, configFile, targets, data, listen) -> {
            Object server = invoke(start, null, config, configFile, targets, data, listen);
            return adapt(server);
        });
    }

    private static RunningServer adapt(Object server) throws IOException {
        Class<?> c = server.getClass();
        Method close;
        Method await;
        Method portals;
        try {
            close = c.getMethod("close");
            await = c.getMethod("awaitTermination");
        } catch (NoSuchMethodException e) {
            throw new IOException(c.getName() + " lacks close() or awaitTermination()");
        }
        try {
            portals = c.getMethod("portals");
        } catch (NoSuchMethodException e) {
            portals = null;
        }
        Method portalsMethod = portals;
        return new RunningServer() {
            @Override
            public List<InetSocketAddress> portals() {
                if (portalsMethod == null) {
                    return List.of();
                }
                try {
                    List<InetSocketAddress> out = new ArrayList<>();
                    for (Object o : (Iterable<?>) portalsMethod.invoke(server)) {
                        if (o instanceof InetSocketAddress a) {
                            out.add(a);
                        }
                    }
                    return out;
                } catch (ReflectiveOperationException | ClassCastException e) {
                    return List.of();
                }
            }

            @Override
            public void close() throws IOException {
                try {
                    invoke(close, server);
                } catch (ConfigException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }

            @Override
            public void awaitTermination() throws InterruptedException {
                try {
                    await.invoke(server);
                } catch (InvocationTargetException e) {
                    if (e.getCause() instanceof InterruptedException ie) {
                        throw ie;
                    }
                    throw new IllegalStateException(e.getCause());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        };
    }

    private static Object invoke(Method m, Object target, Object... args) throws ConfigException, IOException {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            Throwable t = e.getCause();
            if (t instanceof ConfigException ce) {
                throw ce;
            }
            if (t instanceof IOException io) {
                throw io;
            }
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error err) {
                throw err;
            }
            throw new IOException(t.toString(), t);
        } catch (IllegalAccessException e) {
            throw new IOException("cannot call " + m, e);
        }
    }
}
