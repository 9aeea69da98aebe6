package io.orion.dedup.jobs;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orion.dedup.config.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the job manager keeps across restarts, in {@code <data>/jobs.json} (mode 0600, replaced
 * atomically): the next job id, when the file was made (the schedule's start when no scrub ever
 * ran), and per kind the last finished job and when one last succeeded. An unreadable file is
 * logged and started afresh: it holds history, never data.
 */
final class JobHistory {
    private static final Logger LOG = LoggerFactory.getLogger(JobHistory.class);
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    @JsonIgnoreProperties(ignoreUnknown = true)
    record State(@JsonProperty("next_id") long nextId,
                 @JsonProperty("created_millis") long createdMillis,
                 @JsonProperty("last") Map<String, JobInfo> last,
                 @JsonProperty("last_success_millis") Map<String, Long> lastSuccessMillis) {
    }

    private final Path file;
    private long nextId;
    private final long createdMillis;
    private final Map<JobKind, JobInfo> last = new EnumMap<>(JobKind.class);
    private final Map<JobKind, Long> lastSuccess = new EnumMap<>(JobKind.class);

    private JobHistory(Path file, long nextId, long createdMillis) {
        this.file = file;
        this.nextId = nextId;
        this.createdMillis = createdMillis;
    }

    /** Reads {@code file}, or starts afresh (and writes it) when it is missing or unreadable. */
    static JobHistory load(Path file, long nowMillis) {
        if (file != null && Files.exists(file)) {
            try {
                State s = JSON.readValue(file.toFile(), State.class);
                JobHistory h = new JobHistory(file, Math.max(1, s.nextId()), s.createdMillis() > 0 ? s.createdMillis()
                        : nowMillis);
                if (s.last() != null) {
                    s.last().forEach((k, v) -> JobKind.of(k).ifPresent(kind -> h.last.put(kind, v)));
                }
                if (s.lastSuccessMillis() != null) {
                    s.lastSuccessMillis().forEach((k, v) -> JobKind.of(k).ifPresent(kind -> h.lastSuccess.put(kind, v)));
                }
                return h;
            } catch (IOException | RuntimeException e) {
                LOG.warn("job history {} unreadable, starting afresh: {}", file, e.getMessage());
            }
        }
        JobHistory h = new JobHistory(file, 1, nowMillis);
        h.save();
        return h;
    }

    synchronized long takeId() {
        long id = nextId++;
        save();
        return id;
    }

    long createdMillis() {
        return createdMillis;
    }

    synchronized JobInfo last(JobKind kind) {
        return last.get(kind);
    }

    synchronized Long lastSuccessMillis(JobKind kind) {
        return lastSuccess.get(kind);
    }

    synchronized void record(JobInfo info, long endedMillis) {
        last.put(info.kind(), info);
        if (JobInfo.SUCCESS.equals(info.outcome())) {
            lastSuccess.put(info.kind(), endedMillis);
        }
        save();
    }

    private void save() {
        if (file == null) {
            return;
        }
        Map<String, JobInfo> l = new LinkedHashMap<>();
        last.forEach((k, v) -> l.put(k.label(), v));
        Map<String, Long> s = new LinkedHashMap<>();
        lastSuccess.forEach((k, v) -> s.put(k.label(), v));
        try {
            AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter()
                    .writeValueAsBytes(new State(nextId, createdMillis, l, s)));
        } catch (IOException e) {
            LOG.warn("cannot save job history {}: {}", file, e.toString());
        }
    }
}
