# Stand-in for postgres:15 when no registry answers: Debian's PostgreSQL 15
# with the official image's first-boot contract (POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB, PGDATA), which is all compose uses.
FROM employee-standin/postgres-root:bookworm
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 700 "$PGDATA"
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER postgres
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
