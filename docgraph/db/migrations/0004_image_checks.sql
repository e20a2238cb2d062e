-- Whether an image document was looked at (measured, preview made, or found
-- not to be a usable image). The preview job runs after recording, off the
-- request path; a job lost to a crash or a storage outage leaves this null,
-- and the sweep retries such documents, a bounded number of times.
alter table documents
    add column image_checked_at timestamptz,
    add column image_check_attempts smallint not null default 0
        check (image_check_attempts >= 0);

-- Documents measured before this column existed were checked.
update documents set image_checked_at = updated_at where image_width is not null;

-- The sweep's scan for image documents still waiting to be looked at.
create index documents_image_unchecked on documents (created_at)
    where image_checked_at is null and deleted_at is null and mime_type like 'image/%';
