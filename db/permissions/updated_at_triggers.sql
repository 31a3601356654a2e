-- Every-time script: attaches set_updated_at() to each public table that has an
-- updated_at column. It runs after db/up and db/functions on every migration, so a
-- table added by a later one-time script gets its trigger without anyone remembering.
do $$
declare
    t record;
begin
    for t in
        select c.table_name
        from information_schema.columns c
        join information_schema.tables tb using (table_schema, table_name)
        where c.table_schema = 'public' and c.column_name = 'updated_at' and tb.table_type = 'BASE TABLE'
    loop
        if not exists (
            select 1 from pg_trigger
            where tgrelid = format('public.%I', t.table_name)::regclass and tgname = 'set_updated_at'
        ) then
            execute format('create trigger set_updated_at before update on public.%I for each row execute function public.set_updated_at()', t.table_name);
        end if;
    end loop;
end;
$$;
