-- Uploads you can trust (issue 18): what the bytes are, whether a virus
-- scanner found them clean, and a PDF's page count.
--
-- detected_mime_type: the type createDocument read from the object's first
-- bytes (a declared type the bytes contradict is refused before anything is
-- recorded).
--
-- scan_status: not_scanned (no scanner, and scanning not mandatory), pending
-- (waiting for its scan), clean, infected (scan_signature names what was
-- found), failed (scan_failure says why: the scanner stayed unreachable
-- through every try, and the document is scanned again once it answers; or it
-- refused the file). A pending document is the scan queue's entry: each try
-- is counted in scan_attempts before it runs, and scan_due_at is when the
-- next one may start (a try in progress holds it a while ahead, so a crash
-- only delays it).
alter table documents
    add column detected_mime_type text check (char_length(detected_mime_type) <= 255),
    add column scan_status text not null default 'not_scanned'
        check (scan_status in ('not_scanned', 'pending', 'clean', 'infected', 'failed')),
    add column scan_signature text check (char_length(scan_signature) between 1 and 255),
    add column scan_failure text check (scan_failure in ('unreachable', 'refused')),
    add column scanned_at timestamptz,
    add column scan_attempts smallint not null default 0 check (scan_attempts >= 0),
    add column scan_due_at timestamptz,
    add column page_count integer check (page_count > 0),
    -- An infected document's bytes leave their key when it is found (moved as a
    -- deletion moves them: bytes_moved_at), and are removed for good after the
    -- delete grace period: bytes_purged_at.
    add column bytes_purged_at timestamptz,
    add constraint documents_signature_only_when_infected
        check ((scan_status = 'infected') = (scan_signature is not null)),
    add constraint documents_failure_only_when_failed
        check ((scan_status = 'failed') = (scan_failure is not null)),
    drop constraint documents_moved_only_when_deleted,
    add constraint documents_moved_only_when_deleted_or_infected
        check (bytes_moved_at is null or deleted_at is not null or scan_status = 'infected');

-- The scan queue: pending documents by when their next try is due.
create index documents_scan_due on documents (scan_due_at)
    where scan_status = 'pending' and deleted_at is null;
-- Documents whose scan failed because the scanner was unreachable: scanned
-- again once it answers.
create index documents_scan_unreachable on documents (scanned_at)
    where scan_status = 'failed' and scan_failure = 'unreachable' and deleted_at is null;
-- Infected documents whose bytes still wait for the end of the grace period.
create index documents_infected_unpurged on documents (scanned_at)
    where scan_status = 'infected' and bytes_purged_at is null and deleted_at is null;

-- The preview job now also renders PDFs' first pages: the sweep's scan for
-- documents no preview job has looked at covers them.
drop index documents_image_unchecked;
create index documents_preview_unchecked on documents (created_at)
    where image_checked_at is null and deleted_at is null
      and (mime_type like 'image/%' or mime_type = 'application/pdf');
