# Stand-in for nginx when no registry answers: Debian's nginx laid out as the
# official image is (conf.d/*.conf inside http {}, logs to stdout and stderr).
FROM employee-standin/nginx-root:bookworm
RUN rm -f /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
