package io.orion.dedup.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TargetAdminServiceTest {

    private static final String IQN = "iqn.2026-11.io.orion:svc";

    @TempDir
    Path dir;

    /** Records what the live server was asked to do; can be told to fail. */
    static class Recording extends TargetAdminService {
        final List<String> applied = new ArrayList<>();
        final Map<String, Integer> sessions = new HashMap<>();
        IOException failNext;

        Recording(TargetDirectory d) {
            super(d);
        }

        @Override
        protected void apply(TargetDefinition previous, TargetDefinition next) throws IOException {
            if (failNext != null) {
                IOException e = failNext;
                failNext = null;
                throw e;
            }
            applied.add((previous == null ? "-" : previous.luns().size() + "L") + ">" + (next == null ? "-" : next.luns().size() + "L"));
            if (next != null) {
                // like the server: opening a LUN creates its volume when new, grows it when larger
                for (LunDefinition l : next.luns()) {
                    VolumeSummary v = stored.get(l.volume());
                    if (v == null || v.sizeBytes() < l.size()) {
                        stored.put(l.volume(), new VolumeSummary(l.volume(), l.backing().tomlName(), l.size(),
                                l.blockSize(), l.dedupBlockSize(8192), v == null ? 0 : v.logicalUsedBytes(),
                                v == null ? 0 : v.storedBytes(), null, null, null));
                    }
                }
            }
        }

        /** The volumes in "storage", by name. */
        final Map<String, VolumeSummary> stored = new java.util.TreeMap<>();

        @Override
        protected List<VolumeSummary> storedVolumes() {
            return List.copyOf(stored.values());
        }

        @Override
        protected java.util.Optional<VolumeSummary> storedVolume(LunDefinition lun) {
            return java.util.Optional.ofNullable(stored.get(lun.volume()))
                    .filter(v -> v.backing().equals(lun.backing().tomlName()));
        }

        @Override
        protected VolumeRelease destroyVolume(VolumeSummary v) throws AdminException {
            if (stored.remove(v.volume()) == null) {
                throw new AdminException("no volume " + v.volume());
            }
            return new VolumeRelease(v.volume(), v.backing(), true, v.logicalUsedBytes(), v.storedBytes());
        }

        @Override
        protected int sessions(String iqn) {
            return sessions.getOrDefault(iqn, 0);
        }

        @Override
        protected int sessionsUsing(String iqn, int lun) {
            return sessions.getOrDefault(iqn + "/" + lun, 0);
        }

        @Override
        protected List<HostPort> defaultPortals() {
            return List.of(new HostPort("0.0.0.0", 3260));
        }

        @Override
        protected int defaultDedupBlockSize() {
            return 8192;
        }

        private static Map<String, Object> none() {
            return Map.of();
        }

        @Override public StatusReport status() { return null; }
        @Override public StatsReport stats(boolean verbose) { return null; }
        @Override public Map<String, Object> hashInfo() { return none(); }
        @Override public Map<String, Object> hashOptimize() { return none(); }
        @Override public Map<String, Object> hashStats() { return none(); }
        @Override public Map<String, Object> referenceInfo() { return none(); }
        @Override public Map<String, Object> referenceCleanup() { return none(); }
        @Override public Map<String, Object> referenceStats() { return none(); }
        @Override public Map<String, Object> cacheInfo() { return none(); }
        @Override public Map<String, Object> cacheFlush() { return none(); }
        @Override public Map<String, Object> cacheStats() { return none(); }
        @Override public Map<String, Object> compressionInfo() { return none(); }
        @Override public Map<String, Object> compressionOptimize() { return none(); }
        @Override public Map<String, Object> performanceStats() { return none(); }
        @Override public Map<String, Object> optimizationStats() { return none(); }
    }

    @Test
    void appliesBeforeSavingAndAFailedApplyChangesNothing() throws Exception {
        Recording svc = new Recording(TargetDirectory.load(dir));
        svc.createTarget(IQN, null, true);
        LunInfo info = svc.createLun(IQN, LunDefinition.dedup(0, "svc-0", 1L << 30, 512));
        assertEquals(8192, info.dedupBlockSize());
        assertEquals(List.of("->0L", "0L>1L"), svc.applied);

        String before = Files.readString(dir.resolve("svc.toml"));
        svc.failNext = new IOException("cannot open volume svc-1: disk full");
        IOException e = assertThrows(IOException.class,
                () -> svc.createLun(IQN, LunDefinition.dedup(1, "svc-1", 1L << 30, 512)));
        assertTrue(e.getMessage().contains("disk full"));
        assertEquals(before, Files.readString(dir.resolve("svc.toml")), "the file is unchanged");
        assertEquals(1, svc.listLuns(IQN).size(), "and so is the definition");
        assertEquals(1, TargetDirectory.load(dir).find(IQN).orElseThrow().luns().size());
    }

    @Test
    void refusesDeletingWhatIsInUseUnlessForced() throws Exception {
        Recording svc = new Recording(TargetDirectory.load(dir));
        svc.createTarget(IQN, null, true);
        svc.createLun(IQN, LunDefinition.dedup(0, "svc-0", 1L << 30, 512));
        svc.sessions.put(IQN + "/0", 2);
        svc.sessions.put(IQN, 2);
        assertEquals("LUN 0 of " + IQN + " is in use by 2 sessions; use --force to delete it anyway",
                assertThrows(AdminException.class, () -> svc.deleteLun(IQN, 0, false)).getMessage());
        assertEquals(2, svc.listLuns(null).get(0).sessions());
        assertEquals("target " + IQN + " has 2 sessions; use --force to delete it anyway",
                assertThrows(AdminException.class, () -> svc.deleteTarget(IQN, false)).getMessage());
        svc.deleteLun(IQN, 0, true);
        assertEquals(List.of(), svc.listLuns(IQN));
        svc.deleteTarget(IQN, true);
        assertEquals(List.of("->0L", "0L>1L", "1L>0L", "0L>-"), svc.applied);
        assertFalse(Files.exists(dir.resolve("svc.toml")));
    }

    @Test
    void listsPortalsAndChap() throws Exception {
        Recording svc = new Recording(TargetDirectory.load(dir));
        svc.createTarget(IQN, "Svc", false);
        svc.addPortal(IQN, 2, new HostPort("127.0.0.1", 13382));
        assertEquals(List.of("1:0.0.0.0:3260", "2:127.0.0.1:13382"), svc.listTargets().get(0).portals());
        svc.setChap(IQN, ChapScope.DISCOVERY, null, ChapCredentials.oneWay("d", "discovery-secret"));
        assertEquals("d", svc.showTarget(IQN).discoveryChap().user());
        svc.clearChap(IQN, ChapScope.DISCOVERY, null);
        assertNull(svc.showTarget(IQN).discoveryChap());
        assertThrows(AdminException.class, () -> svc.setChap(IQN, ChapScope.TARGET, null, null));
        assertEquals(1, svc.saveConfig().files().size());
    }

    private static LunDefinition newLun(int id, long size) {
        return new LunDefinition(id, null, size, 0, 0, false, true, io.orion.dedup.config.LunBacking.DEDUP, null);
    }

    private static LunDefinition attachLun(int id, String volume, long size) {
        return new LunDefinition(id, volume, size, 0, 0, false, true, io.orion.dedup.config.LunBacking.DEDUP, null);
    }

    /** Issue item 2: a deleted LUN's volume never comes back behind a new LUN unless asked. */
    @Test
    void aNewLunGetsAFreshVolumeAndADeletedLunsVolumeIsKeptDetached() throws Exception {
        Recording svc = new Recording(TargetDirectory.load(dir));
        svc.createTarget(IQN, null, true);
        assertEquals("svc-0", svc.createLun(IQN, newLun(0, 1L << 30)).volume());

        VolumeRelease kept = svc.deleteLun(IQN, 0, false, false);
        assertFalse(kept.destroyed());
        assertEquals("svc-0", kept.volume());
        assertTrue(kept.describe().contains("kept, detached"), kept.describe());

        // same LUN number, same (default) name, smaller size: a new empty volume, not the old one
        LunInfo again = svc.createLun(IQN, newLun(0, 1L << 20));
        assertEquals("svc-0-2", again.volume());
        assertEquals(1L << 30, svc.stored.get("svc-0").sizeBytes(), "the old volume is not shrunk");
        List<VolumeSummary> vols = svc.listVolumes();
        assertEquals(List.of("svc-0", "svc-0-2"), vols.stream().map(VolumeSummary::volume).toList());
        assertNull(vols.get(0).target(), "svc-0 is detached");
        assertEquals(IQN, vols.get(1).target());
        assertEquals(0, vols.get(1).lun());

        // naming an existing volume without --attach is refused
        AdminException exists = assertThrows(AdminException.class,
                () -> svc.createLun(IQN, attachLun(1, "svc-0", 1L << 30)));
        assertTrue(exists.getMessage().contains("volume svc-0 already exists") && exists.getMessage().contains("--attach"),
                exists.getMessage());
        // attaching as a smaller LUN would cut off data: refused
        AdminException smaller = assertThrows(AdminException.class,
                () -> svc.createLun(IQN, attachLun(1, "svc-0", 1L << 20), true));
        assertTrue(smaller.getMessage().contains("cut off"), smaller.getMessage());
        // a volume backs one LUN only
        AdminException twice = assertThrows(AdminException.class,
                () -> svc.createLun(IQN, attachLun(1, "svc-0-2", 0), true));
        assertTrue(twice.getMessage().contains("already backs LUN 0"), twice.getMessage());
        assertThrows(AdminException.class, () -> svc.createLun(IQN, attachLun(1, "nope", 0), true));
        assertEquals(1, svc.listLuns(IQN).size(), "no refused change was applied");

        // --attach with no size takes the volume's geometry
        LunInfo attached = svc.createLun(IQN, attachLun(1, "svc-0", 0), true);
        assertEquals(1L << 30, attached.sizeBytes());
        assertEquals(512, attached.blockSize());
    }

    @Test
    void volumeDeleteRefusesAttachedVolumesAndDestroyDeletesWithTheLun() throws Exception {
        Recording svc = new Recording(TargetDirectory.load(dir));
        svc.createTarget(IQN, null, true);
        svc.createLun(IQN, newLun(0, 1L << 30));
        svc.createLun(IQN, newLun(1, 1L << 30));
        AdminException attached = assertThrows(AdminException.class, () -> svc.deleteVolume("svc-0"));
        assertTrue(attached.getMessage().contains("backs LUN 0 of " + IQN), attached.getMessage());
        assertEquals("no volume gone", assertThrows(AdminException.class, () -> svc.deleteVolume("gone")).getMessage());

        VolumeRelease destroyed = svc.deleteLun(IQN, 1, false, true);
        assertTrue(destroyed.destroyed());
        assertFalse(svc.stored.containsKey("svc-1"));

        svc.deleteLun(IQN, 0, false, false);
        assertTrue(svc.deleteVolume("svc-0").destroyed());
        assertTrue(svc.listVolumes().isEmpty());

        svc.createLun(IQN, newLun(0, 1L << 30));
        svc.createLun(IQN, newLun(1, 1L << 30));
        List<VolumeRelease> r = svc.deleteTarget(IQN, false, false);
        assertEquals(2, r.size());
        assertEquals(2, svc.stored.size(), "target delete keeps the volumes");
        assertTrue(svc.listVolumes().stream().noneMatch(VolumeSummary::attached));
        svc.createTarget(IQN, null, true);
        assertEquals("svc-0-2", svc.createLun(IQN, newLun(0, 1L << 30)).volume(), "a re-created target gets new volumes");
        assertEquals(List.of(true), svc.deleteTarget(IQN, false, true).stream().map(VolumeRelease::destroyed).toList());
        assertEquals(List.of("svc-0", "svc-1"), List.copyOf(svc.stored.keySet()));
    }
}
