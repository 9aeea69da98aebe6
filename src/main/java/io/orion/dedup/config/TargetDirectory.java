package io.orion.dedup.config;

import io.orion.dedup.blockdev.PrivateFiles;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code targets/} directory: one TOML file per target (the {@code saveconfig} model of LIO).
 * The server loads it at start; live changes are saved back one file at a time, atomically, so a
 * restart comes back the same. Thread-safe.
 */
public final class TargetDirectory {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TargetDirectory.class);

    private final Path dir;
    private final Map<String, TargetDefinition> targets = new LinkedHashMap<>();
    private final Map<String, Path> files = new HashMap<>();

    private TargetDirectory(Path dir) {
        this.dir = dir;
    }

    /**
     * Loads every {@code *.toml} file of {@code dir} (in name order; a missing directory is empty).
     *
     * @throws ConfigException on the first invalid file, or when two files define the same target
     *     or the same volume name
     */
    public static TargetDirectory load(Path dir) throws ConfigException, IOException {
        TargetDirectory d = new TargetDirectory(dir);
        if (!Files.isDirectory(dir)) {
            return d;
        }
        List<Path> paths = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*.toml")) {
            for (Path p : s) {
                if (!p.getFileName().toString().startsWith(".")) {
                    paths.add(p);
                }
            }
        }
        paths.sort(Comparator.comparing(p -> p.getFileName().toString()));
        Map<String, Path> volumes = new HashMap<>();
        for (Path p : paths) {
            try {
                PrivateFiles.restrictFile(p); // CHAP secrets: 0600, also for files written by older versions
            } catch (IOException e) {
                LOG.warn("{} holds CHAP secrets but its mode cannot be set to 0600: {}", p, e.toString());
            }
            TargetDefinition t = TargetFiles.read(p);
            if (d.targets.containsKey(t.iqn())) {
                throw new ConfigException(p, 1, "iqn", '"' + t.iqn() + '"',
                        "target already defined in " + d.files.get(t.iqn()));
            }
            for (int i = 0; i < t.luns().size(); i++) {
                String v = t.luns().get(i).volume();
                Path other = volumes.putIfAbsent(v, p);
                if (other != null) {
                    throw new ConfigException(p, 0, "lun[" + i + "].volume", '"' + v + '"',
                            "volume name already used in " + other);
                }
            }
            d.targets.put(t.iqn(), t);
            d.files.put(t.iqn(), p);
        }
        return d;
    }

    /** The directory. */
    public Path dir() {
        return dir;
    }

    /** All targets, in load/creation order. */
    public synchronized List<TargetDefinition> targets() {
        return List.copyOf(targets.values());
    }

    /** The target with this name. */
    public synchronized Optional<TargetDefinition> find(String iqn) {
        return Optional.ofNullable(targets.get(IscsiName.normalize(iqn)));
    }

    /** The file a target is (or will be) stored in. */
    public synchronized Path fileOf(String iqn) {
        String n = IscsiName.normalize(iqn);
        Path p = files.get(n);
        return p != null ? p : newFileName(n);
    }

    private Path newFileName(String iqn) {
        String base = TargetFiles.baseName(iqn);
        Path p = dir.resolve(base + ".toml");
        int i = 2;
        while (files.containsValue(p) || Files.exists(p)) {
            p = dir.resolve(base + "-" + i++ + ".toml");
        }
        return p;
    }

    /**
     * Validates and atomically saves a new or changed target, and remembers it.
     *
     * @return the file written
     * @throws ConfigException when the definition is invalid or a volume name is used by another
     *     target (the file named is the one that would have been written)
     */
    public synchronized Path save(TargetDefinition t) throws ConfigException, IOException {
        Path file = fileOf(t.iqn());
        List<TargetDefinition.Problem> problems = t.problems();
        if (!problems.isEmpty()) {
            TargetDefinition.Problem p = problems.get(0);
            throw new ConfigException(file, 0, p.key(), null, p.message());
        }
        for (TargetDefinition other : targets.values()) {
            if (other.iqn().equals(t.iqn())) {
                continue;
            }
            for (int i = 0; i < t.luns().size(); i++) {
                String v = t.luns().get(i).volume();
                if (other.luns().stream().anyMatch(l -> l.volume().equals(v))) {
                    throw new ConfigException(file, 0, "lun[" + i + "].volume", '"' + v + '"',
                            "volume name already used by " + other.iqn());
                }
            }
        }
        PrivateFiles.createDirectories(dir);
        TargetFiles.write(file, t);
        targets.put(t.iqn(), t);
        files.put(t.iqn(), file);
        return file;
    }

    /** Saves every target again (the {@code saveconfig} command); returns the files written. */
    public synchronized List<Path> saveAll() throws IOException {
        List<Path> written = new ArrayList<>();
        PrivateFiles.createDirectories(dir);
        for (TargetDefinition t : targets.values()) {
            Path file = fileOf(t.iqn());
            TargetFiles.write(file, t);
            written.add(file);
        }
        return written;
    }

    /** Takes a definition read from {@code file} (reload) without writing anything. */
    public synchronized void remember(TargetDefinition t, Path file) {
        targets.put(t.iqn(), t);
        files.put(t.iqn(), file);
    }

    /** Forgets a target whose file is gone (reload), deleting nothing. */
    public synchronized void forget(String iqn) {
        String n = IscsiName.normalize(iqn);
        targets.remove(n);
        files.remove(n);
    }

    /** Forgets a target and deletes its file; false when there was no such target. */
    public synchronized boolean delete(String iqn) throws IOException {
        String n = IscsiName.normalize(iqn);
        if (targets.remove(n) == null) {
            return false;
        }
        Path file = files.remove(n);
        if (file != null) {
            Files.deleteIfExists(file);
            AtomicFiles.syncDirectory(dir);
        }
        return true;
    }
}
