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
    static final class Recording extends TargetAdminService {
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
}
