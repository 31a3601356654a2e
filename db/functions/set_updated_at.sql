-- Row trigger: stamps updated_at on every UPDATE, so no writer can forget it.
create or replace function public.set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;
