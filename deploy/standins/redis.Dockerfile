# Stand-in for redis:7 when no registry answers: Debian's Redis 7.
FROM employee-standin/redis-root:bookworm
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
