package io.orion.dedup.iscsi.login;

/**
 * The operational parameters in force after login (RFC 7143 §13). Session-wide values come from
 * the leading connection; {@code headerDigest}, {@code dataDigest} and
 * {@code initiatorMaxRecvDataSegmentLength} belong to one connection.
 */
public record SessionParams(boolean headerDigest, boolean dataDigest, int maxConnections, boolean initialR2T,
                            boolean immediateData, int initiatorMaxRecvDataSegmentLength,
                            int targetMaxRecvDataSegmentLength, int maxBurstLength, int firstBurstLength,
                            int defaultTime2Wait, int defaultTime2Retain, int maxOutstandingR2T,
                            boolean dataPduInOrder, boolean dataSequenceInOrder, int errorRecoveryLevel) {

    /** RFC 7143 defaults, with our declared MaxRecvDataSegmentLength. */
    public static SessionParams defaults(int targetMaxRecv) {
        return new SessionParams(false, false, 1, true, true, 8192, targetMaxRecv, 262144, 65536, 2, 20, 1, true,
                true, 0);
    }

    /** Applies one negotiated result. Unknown names are ignored. */
    public SessionParams with(String key, String value) {
        boolean b = "Yes".equals(value);
        int n = 0;
        if (!value.isEmpty() && (Character.isDigit(value.charAt(0)))) {
            n = (int) KeyNegotiator.parseNumber(value);
        }
        return switch (key) {
            case "HeaderDigest" -> new SessionParams("CRC32C".equals(value), dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder,
                    dataSequenceInOrder, errorRecoveryLevel);
            case "DataDigest" -> new SessionParams(headerDigest, "CRC32C".equals(value), maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder,
                    dataSequenceInOrder, errorRecoveryLevel);
            case "MaxConnections" -> new SessionParams(headerDigest, dataDigest, n, initialR2T, immediateData,
                    initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder,
                    dataSequenceInOrder, errorRecoveryLevel);
            case "InitialR2T" -> new SessionParams(headerDigest, dataDigest, maxConnections, b, immediateData,
                    initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder,
                    dataSequenceInOrder, errorRecoveryLevel);
            case "ImmediateData" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T, b,
                    initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder,
                    dataSequenceInOrder, errorRecoveryLevel);
            case "MaxRecvDataSegmentLength" -> new SessionParams(headerDigest, dataDigest, maxConnections,
                    initialR2T, immediateData, n, targetMaxRecvDataSegmentLength, maxBurstLength, firstBurstLength,
                    defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder, dataSequenceInOrder,
                    errorRecoveryLevel);
            case "MaxBurstLength" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, n,
                    Math.min(firstBurstLength, n), defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T,
                    dataPduInOrder, dataSequenceInOrder, errorRecoveryLevel);
            case "FirstBurstLength" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    Math.min(n, maxBurstLength), defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T,
                    dataPduInOrder, dataSequenceInOrder, errorRecoveryLevel);
            case "DefaultTime2Wait" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, n, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder,
                    dataSequenceInOrder, errorRecoveryLevel);
            case "DefaultTime2Retain" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, n, maxOutstandingR2T, dataPduInOrder, dataSequenceInOrder,
                    errorRecoveryLevel);
            case "MaxOutstandingR2T" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, n, dataPduInOrder, dataSequenceInOrder,
                    errorRecoveryLevel);
            case "DataPDUInOrder" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, b,
                    dataSequenceInOrder, errorRecoveryLevel);
            case "DataSequenceInOrder" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder, b,
                    errorRecoveryLevel);
            case "ErrorRecoveryLevel" -> new SessionParams(headerDigest, dataDigest, maxConnections, initialR2T,
                    immediateData, initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength, maxBurstLength,
                    firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T, dataPduInOrder,
                    dataSequenceInOrder, n);
            default -> this;
        };
    }

    /** The same session-wide values with this connection's own digests and segment length. */
    public SessionParams forConnection(SessionParams connection) {
        return new SessionParams(connection.headerDigest, connection.dataDigest, maxConnections, initialR2T,
                immediateData, connection.initiatorMaxRecvDataSegmentLength, targetMaxRecvDataSegmentLength,
                maxBurstLength, firstBurstLength, defaultTime2Wait, defaultTime2Retain, maxOutstandingR2T,
                dataPduInOrder, dataSequenceInOrder, errorRecoveryLevel);
    }
}
