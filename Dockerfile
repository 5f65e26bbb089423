# The monitor (and the simulator, from the same image).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor monitor
COPY device_sim device_sim
COPY dashboard dashboard
COPY config config
# Editable, so config/ and dashboard/ are found beside the code.
RUN pip install --no-cache-dir -e . \
    && useradd --system --uid 10001 monitor \
    && mkdir /data && chown monitor /data
USER monitor
ENV MONITOR_DATA_DIR=/data \
    MONITOR_HTTP_HOST=0.0.0.0
VOLUME /data
EXPOSE 8000
# SIGTERM (docker stop) drains, stores, acknowledges and ships before exit.
STOPSIGNAL SIGTERM
CMD ["monitor", "run"]
