package io.orion.dedup.blockdev;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Modes of what the server keeps on disk: LUN contents, metadata and CHAP secrets are readable by
 * the server's user only, whatever the process umask. Directories it owns are 0700, files 0600;
 * an existing file or directory with a wider mode is narrowed (and logged). Block devices and
 * directories the server did not create (a device file's existing parent) are left alone.
 * Where the file system has no POSIX modes, nothing is done.
 */
public final class PrivateFiles {

    private static final Logger LOG = LoggerFactory.getLogger(PrivateFiles.class);

    /** rwx------ */
    public static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    /** rw------- */
    public static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    /** rwx--x---: the group may pass through (to reach a socket inside) but list and read nothing. */
    public static final Set<PosixFilePermission> DIRECTORY_GROUP_PASS = PosixFilePermissions.fromString("rwx--x---");

    private static final boolean POSIX = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

    private PrivateFiles() {}

    /**
     * Makes {@code dir} a private directory: creates it and any missing parents (each 0700), and
     * narrows its own mode to 0700 if it already existed.
     */
    public static Path directory(Path dir) throws IOException {
        createDirectories(dir);
        restrict(dir, DIRECTORY);
        return dir;
    }

    /** Creates {@code dir} and its missing parents, each 0700; existing directories are not changed. */
    public static void createDirectories(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath();
        Deque<Path> missing = new ArrayDeque<>();
        for (Path p = abs; p != null && !Files.exists(p); p = p.getParent()) {
            missing.push(p);
        }
        while (!missing.isEmpty()) {
            Path p = missing.pop();
            try {
                Files.createDirectory(p);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (!Files.isDirectory(p)) {
                    throw e;
                }
                continue; // created by someone else meanwhile: not ours to change
            }
            set(p, DIRECTORY);
        }
    }

    /**
     * Opens (creating it 0600 if absent) a regular file with {@code options}, and narrows an
     * existing regular file's mode to 0600. Not for block devices: use a plain open for those.
     */
    public static FileChannel open(Path file, OpenOption... options) throws IOException {
        FileChannel ch = POSIX
                ? FileChannel.open(file, Set.of(options), new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(FILE)})
                : FileChannel.open(file, options);
        try {
            restrictFile(file);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return ch;
    }

    /** Narrows a regular file's mode to 0600 (anything else, or an absent file, is left alone). */
    public static void restrictFile(Path file) throws IOException {
        if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            restrict(file, FILE);
        }
    }

    /** Narrows every regular file directly inside {@code dir} to 0600. */
    public static void restrictFiles(Path dir) throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                restrictFile(p);
            }
        }
    }

    /**
     * Gives {@code path} to group {@code group} (a name from the system's group database) and sets
     * {@code mode}.
     *
     * @throws IOException naming the group when it does not exist or cannot be given
     */
    public static void setGroup(Path path, String group, Set<PosixFilePermission> mode) throws IOException {
        // links followed: with NOFOLLOW_LINKS the JDK opens the file to change it, which a socket refuses
        PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
        if (view == null) {
            throw new IOException("cannot give " + path + " to group " + group + ": no POSIX file modes here");
        }
        GroupPrincipal g;
        try {
            g = path.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
        } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
            throw new IOException("group \"" + group + "\" does not exist", e);
        }
        try {
            view.setGroup(g);
        } catch (IOException e) {
            throw new IOException("cannot give " + path + " to group \"" + group + "\": " + e.getMessage(), e);
        }
        view.setPermissions(mode);
    }

    /** Sets {@code path}'s mode to exactly {@code mode} when it differs (logged when it was wider). */
    public static void restrict(Path path, Set<PosixFilePermission> mode) throws IOException {
        if (!POSIX) {
            return;
        }
        Set<PosixFilePermission> now = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
        if (!now.equals(mode)) {
            LOG.info("{}: mode {} -> {}", path, PosixFilePermissions.toString(now), PosixFilePermissions.toString(mode));
            Files.setPosixFilePermissions(path, mode);
        }
    }

    private static void set(Path path, Set<PosixFilePermission> mode) throws IOException {
        if (POSIX) {
            Files.setPosixFilePermissions(path, mode);
        }
    }
}
